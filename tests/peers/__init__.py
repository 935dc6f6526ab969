"""Real SIP peers (SIPp, baresip, kamailio) on 127.0.0.1, started and stopped by fixtures."""
