#!/bin/sh
# Re-capture the shipped corpus of real-program traces (see README.md here).
# Needs root for the block traces (loop devices, mount, tracefs), valgrind
# for the memory traces, and fio, PostgreSQL (pgbench), git, gcc, make, xz.
# About 15 minutes on 2 vCPUs.  Run from anywhere; writes into this directory.
set -eu
cd "$(dirname "$0")/../.."
D=data/traces

kernelml capture block -w pgbench --size 1GiB --duration 120s -p scale=10 -o $D/pgbench-ext4.kmt
kernelml capture block -w sqlite --size 512MiB --duration 45s -o $D/sqlite-ext4.kmt
kernelml capture block -w sqlite --fs xfs --size 512MiB --duration 30s -o $D/sqlite-xfs.kmt
kernelml capture block -w sqlite --fs btrfs --size 512MiB --duration 30s -o $D/sqlite-btrfs.kmt
kernelml capture block -w fio-zipf --size 256MiB --duration 60s -p rate_iops=2000 -o $D/fio-zipf-ext4.kmt
kernelml capture block -w fio-zipf-direct --size 256MiB --duration 60s -p rate_iops=2000 -o $D/fio-zipf-direct-ext4.kmt
kernelml capture block -w git --size 128MiB --duration 180s -o $D/git-ext4.kmt

kernelml capture mem -w python --max-accesses 20000000 -o $D/python.pages.gz
kernelml capture mem -w sqlite --max-accesses 20000000 -o $D/sqlite.pages.gz
kernelml capture mem -w xz --max-accesses 20000000 -o $D/xz.pages.gz
kernelml capture mem -w sort --max-accesses 20000000 -o $D/sort.pages.gz

python -m kernelml.linux.corpus readme $D
