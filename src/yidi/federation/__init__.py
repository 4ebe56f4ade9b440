"""Federation (issue 16): province nodes and a national hub over NATS JetStream (docs/federation.md).

- ``bridge``: one NATS connection on a background event loop, for the synchronous service layer;
- ``subjects``: the names of subjects, buckets and streams of one federation;
- ``messages``: what crosses a border (settle commands, answers, coded refusals) as JSON;
- ``insured``: the insured node's answers (compute and record its side in one transaction);
- ``node``: a province node (its database, its NATS link, ``RemoteInsuredSide`` for the treatment side);
- ``hub``: the national hub (reference registry in JetStream KV, person index, routing);
- ``scenario``: ``yidi scenario run --federated``; ``demo``: a local demo federation.
"""
