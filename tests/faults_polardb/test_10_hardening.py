"""PolarDB's primary, its read-only replica and the standby that copied the primary's files trust nobody:
peer on the socket, SCRAM on localhost, as on PostgreSQL (initdb's own default is trust)."""
import faultlab


def test_no_server_lets_anyone_in_without_a_password(lab):
    faultlab.assert_hardened(lab)
    # what the roles themselves log in with still works: peer on the socket
    assert lab.db("pb2").query("SELECT pg_is_in_recovery()") == "t"
    lab.assert_healthy("pb2")
    lab.assert_healthy("pb3")
