"""Schema of the toy `dispatch` subsystem (tests and the foundation demo).

A job of class ``c`` arrives and must be sent to one of ``N_SERVERS``
servers; the cost (service time in µs) depends on the class and the server.

Op kind ``DISPATCH``; recommendation payload: ``N_CLASSES`` words, word ``c``
is the server for class ``c``.
Record kind ``JOB``: one record per job, fields ``JOB_FIELDS``.
"""

SUBSYSTEM_ID = 0x7F
NAME = "toy-dispatch"
N_CLASSES = 8
N_SERVERS = 4
OP_DISPATCH = 1
REC_JOB = 1
JOB_FIELDS = ["seq", "job_class", "server", "cost_us", "source"]
