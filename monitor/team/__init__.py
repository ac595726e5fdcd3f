"""Who works on a project: members and their roles, invitations by e-mail, new projects, and
sign-in throttling."""
