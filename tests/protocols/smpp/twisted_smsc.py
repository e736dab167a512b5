"""A tiny SMSC built on smpp.twisted3 (the SMPP stack Jasmin uses), run as a subprocess.

It is *not* our code talking to itself: binds are authenticated by Twisted cred, PDUs are
parsed by smpp.pdu3. Every submit_sm is printed as a JSON line; a submit whose text is
"ping" makes the server send a deliver_sm "pong" back. Exits when stdin closes.
"""

import json
import sys
import threading

from smpp.pdu import constants, pdu_types
from smpp.pdu.operations import DeliverSM
from smpp.twisted.config import SMPPServerConfig
from smpp.twisted.protocol import DataHandlerResponse
from smpp.twisted.server import IAuthenticatedSMPP, SMPPServerFactory
from twisted.cred import error
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, reactor
from zope.interface import implementer

USERS = {"kefu": "secret"}
counter = iter(range(1, 10**9))


@implementer(IRealm)
class Realm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        return IAuthenticatedSMPP, avatar_id, lambda: None


@implementer(ICredentialsChecker)
class Checker:
    credentialInterfaces = (IUsernamePassword,)

    def requestAvatarId(self, credentials):
        if USERS.get(credentials.username) == credentials.password:
            return defer.succeed(credentials.username)
        return defer.fail(error.UnauthorizedLogin())


def pdu_types_coding(coding):
    """The data_coding octet back from smpp.pdu3's parsed DataCoding."""
    if coding.scheme == pdu_types.DataCodingScheme.DEFAULT:
        return constants.data_coding_default_name_map[coding.schemeData.name]
    return -1


def on_message(system_id, smpp, pdu):
    params = pdu.params
    sm = params.get("short_message") or b""
    print(json.dumps({"dest": params["destination_addr"].decode(), "coding": pdu_types_coding(params["data_coding"]),
                      "udhi": pdu_types.EsmClassGsmFeatures.UDHI_INDICATOR_SET in params["esm_class"].gsmFeatures,
                      "sm": sm.hex()}), flush=True)  # fmt: skip
    if sm == b"ping":
        reply = DeliverSM(source_addr=params["destination_addr"], destination_addr=params["source_addr"],
                          short_message=b"pong")  # fmt: skip
        reactor.callLater(0.01, smpp.sendDataRequest, reply)
    return DataHandlerResponse(
        status=pdu_types.CommandStatus.ESME_ROK, message_id=f"tw{next(counter)}"
    )


def main():
    config = SMPPServerConfig(msgHandler=on_message, systems={"kefu": {"max_bindings": 4}})
    factory = SMPPServerFactory(config, auth_portal=Portal(Realm(), [Checker()]))
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    print(f"PORT {port.getHost().port}", flush=True)

    def wait_stdin():
        sys.stdin.read()
        reactor.callFromThread(reactor.stop)

    threading.Thread(target=wait_stdin, daemon=True).start()
    reactor.run()


if __name__ == "__main__":
    main()
