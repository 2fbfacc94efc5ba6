"""The Step Functions test harness: rds-maint's own state machines (the operation machine, and the campaign
machine with the operation machine as its child) run in moto's interpreter, the engine Lambda in-process on
the simulated Aurora (`rds_sim`), on a virtual clock (`machine`).

Not product code and not the simulator: it joins the two (it imports `rds_maint` and `rds_sim`),
and only the tests and the benchmarks import it. It reads nothing from the checkout by itself: the
caller passes the ASL definition, the SAM template and the handler it drives.
"""
