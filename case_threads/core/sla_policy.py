"""Which service-level policy a case gets, and its targets (F23): plain data, no Frappe."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from case_threads.core.sla import Targets
from case_threads.core.working_time import Calendar

# The case attributes a policy may be limited to (Case SLA Policy fields of the same name).
CONDITIONS = ("email_route", "queue", "priority", "channel")


@dataclass(frozen=True)
class Policy:
	name: str
	calendar: Calendar
	# case priority ("" = any priority without a row of its own) → Targets
	targets: Mapping[str, Targets]
	conditions: Mapping[str, str] = field(default_factory=dict)
	is_default: bool = False
	sequence: int = 100

	def matches(self, case: Mapping[str, object]) -> bool:
		return all(case.get(key) == value for key, value in self.conditions.items() if value)

	def targets_for(self, priority: str | None) -> Targets | None:
		return self.targets.get(priority or "") or self.targets.get("")


def choose_policy(policies: Iterable[Policy], case: Mapping[str, object]) -> Policy | None:
	"""The first matching policy by sequence (the more conditions, the earlier among equals);
	the default policy when no other matches."""
	policies = list(policies)
	specific = sorted(
		(p for p in policies if not p.is_default),
		key=lambda p: (p.sequence, -sum(1 for v in p.conditions.values() if v), p.name),
	)
	for policy in specific:
		if policy.matches(case):
			return policy
	return next((p for p in policies if p.is_default), None)


def weekly_hours(rows: Sequence[tuple[str, int, int]]) -> dict[int, tuple[tuple[int, int], ...]]:
	"""Working-hour rows (weekday name, start minute, end minute; end 0 = midnight) → Calendar.hours."""
	hours: dict[int, list[tuple[int, int]]] = {}
	for weekday, start, end in rows:
		hours.setdefault(WEEKDAYS.index(weekday), []).append((start, end or 24 * 60))
	return {day: tuple(spans) for day, spans in hours.items()}


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def seconds(value) -> timedelta:
	return timedelta(seconds=float(value or 0))
