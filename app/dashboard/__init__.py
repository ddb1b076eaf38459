"""Read models for the admin pages: home summary, sync health, member detail, month-end reports."""
