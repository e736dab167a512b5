"""Social media: listening, post analysis, influence, the crisis desk."""
