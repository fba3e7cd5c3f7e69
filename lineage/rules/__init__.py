"""The rulebook: every GDPR decision lineage makes, each in one place.

SQL under ``queries/`` selects the evidence; these modules decide. Every command that answers
with a rule (who-has, access, audit, ROPA, erasure, exposure, the map) calls the same code:

- ``taxonomy``:   the fideslang hierarchy (a declared key covers its descendants), special
                  categories (Art. 9, Art. 10);
- ``consent``:    consent state per data use over time (a withdrawal covers descendants);
- ``transfers``:  transfer validity on the transfer's own date, as of a time (dated tables);
- ``retention``:  retention per holder × category × purpose (Art. 5(1)(e));
- ``subject``:    one subject's events folded into holdings at that grain;
- ``requests``:   rights requests, their Art. 12(3) deadlines and task completion.
"""
