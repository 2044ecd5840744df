"""Objection cases (Art. 30): submission, the provider's decision, answer, and corrections downstream."""
