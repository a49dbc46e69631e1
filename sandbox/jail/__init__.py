"""Code that runs *inside* a jail, under ``/usr/bin/python3`` with the standard library
(and python3-seccomp when installed) only: the fork server and the call harness.

Nothing in Referee imports these modules; backends copy this folder into the
jail and start ``server.py``.
"""
