"""Members, consent, referrals."""
