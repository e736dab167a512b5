"""Wait prediction: queueing baselines (the (n+1)·E[S]/c rule, Erlang C) and a learned model
(gradient-boosted trees) over one feature set shared by the call-centre log and the branch
queues (``features.FEATURES``)."""
