"""Lo-Fi x Classical: a chunked mel-spectrogram dataset, what is learned from it, a genre
classifier and a generator that renders blended tracks (issue 6).

Modules (import them directly; nothing heavy is imported here):

- :mod:`.genres`: tiny synthesised "classical" and "lofi" recordings for tests and the demo.
- :mod:`.dataset`: ``build_dataset`` (streamed, parallel, resumable 30-s chunks + log-mels).
- :mod:`.learn`: ``learn`` (Lo-Fi groove, one-shot hits, tone; classical phrases with key/harmony).
- :mod:`.classifier`: a small CNN genre classifier on the log-mel chunks (torch, CPU).
- :mod:`.generate`: ``generate`` (mix, stems, Standard MIDI File; same seed, same bytes).
"""
