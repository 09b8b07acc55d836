"""The file formats the directory reads and writes: a sessioncommunities.online snapshot, the
moderators' curation backup, and what they share (``common``)."""
