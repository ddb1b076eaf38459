"""LINE: linking a LINE user to a member, thank-you messages after store visits, opt-out."""
