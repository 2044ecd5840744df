"""Share service: share and open tiers by catalog class, de-identification, grants."""
