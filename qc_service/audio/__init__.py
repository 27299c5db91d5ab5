"""Audio features as a pure library (decode, loudness, VAD, silence/overtalk, speech rate, clips).
Arrives with the call-audio issue; nothing here yet."""
