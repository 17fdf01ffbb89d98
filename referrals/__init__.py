"""Members, consent and closed-loop referrals."""
