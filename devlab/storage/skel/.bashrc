# ~/.bashrc for devlab labs (seeded once; yours to change).
# Files you create are group-writable by default: your primary group is private to
# you, so this only matters in shared project directories (/project/<org>).
umask 0002
PS1='\u@devlab:\w\$ '
alias ll='ls -l'
