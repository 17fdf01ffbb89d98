"""Web plumbing shared by every domain's blueprints: JSON errors and the error pages."""
