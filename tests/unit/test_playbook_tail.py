"""A failed run's tail in a test's message: what failed comes first, library deprecation warnings do not
push it out."""
import labtools

WARNINGS = (
    "[WARNING]: WorkerProcess for [pb1/TASK: polardb.cluster.polardb : Validating arguments against arg spec "
    "'main'] errantly sent data directly to stderr instead of using Display:\n"
    "   /venv/site-packages/ansible_collections/community/crypto/plugins/module_utils/_crypto/module_backends/"
    "publickey_info.py:66: CryptographyDeprecationWarning: DSA is deprecated and support will be removed\n"
    "\n"
    "/venv/site-packages/ansible/_internal/_ssh/_ssh_agent.py:18: CryptographyDeprecationWarning: DSA is "
    "deprecated and support will be removed in a future release.\n"
    "  from cryptography.hazmat.primitives.asymmetric.dsa import (\n")

OUTPUT = ("TASK [polardb.cluster.verify : Wait until the primary streams to this follower through its slot] ***\n"
          'fatal: [pb3 -> pb1]: FAILED! => {"attempts": 60, "msg": "pb3 does not stream"}\n'
          "PLAY RECAP *****\n"
          "pb3                        : ok=45   changed=2    unreachable=0    failed=1    skipped=48\n"
          + WARNINGS * 40)


def test_the_failure_comes_first_and_the_warnings_are_dropped():
    tail = labtools.PlaybookRun(["site.yml"], 2, OUTPUT, 145.0).tail()
    head, _, rest = tail.partition("\n...\n")
    assert head.splitlines()[-1].startswith("fatal: [pb3 -> pb1]: FAILED!"), tail
    assert "pb3 does not stream" in rest and "failed=1" in rest
    assert "DeprecationWarning" not in tail and "errantly sent data" not in tail


def test_a_run_without_failures_shows_its_end_only():
    run = labtools.PlaybookRun(["site.yml"], 0, "PLAY RECAP *****\npb1 : ok=3 changed=0\n" + WARNINGS, 2.0)
    assert run.tail() == "ansible-playbook site.yml (exit 0, 2s):\nPLAY RECAP *****\npb1 : ok=3 changed=0\n"
