"""Compliance (SPEC 10), the pure core: calling windows per weekday, holidays, rule packs
with their legal sources, per-contact frequency caps and do-not-call, judged in every
candidate time zone of the callee, with the earliest time a refused call may be tried.

callsign is a tool, not legal advice: the packs encode our reading of the sources they
cite, and an organization stays responsible for the rules that bind it.
"""
