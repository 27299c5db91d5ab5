"""NLP features as a pure library (tokenizer, sentence embeddings, sentiment, Q&A values, hot
words, the feedback model). Arrives with the NLP issue; nothing here yet."""
