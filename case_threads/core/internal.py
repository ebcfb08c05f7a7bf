"""Who counts as internal (F7): a reply from an internal address attaches without reopening or cloning."""


def internal_patterns(text: str) -> tuple[str, ...]:
	"""The Case Threads Settings list: one address or *@domain per line (commas and spaces also split)."""
	return tuple(part.strip().lower() for part in (text or "").replace(",", "\n").split() if part.strip())


def address_is_listed(address: str, patterns: tuple[str, ...]) -> bool:
	"""Exact address, or *@domain (also @domain) for every address of that domain."""
	address = (address or "").strip().lower()
	if "@" not in address:
		return False
	domain = address.rsplit("@", 1)[1]
	for pattern in patterns:
		if pattern == address:
			return True
		if pattern.startswith(("*@", "@")) and pattern.split("@", 1)[1] == domain:
			return True
	return False
