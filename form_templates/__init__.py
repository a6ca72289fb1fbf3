"""Form templates as package data: one folder per form (template.json, reference.png, the source PDF)."""
