"""The crisis and hot-spot desk (危机与热点, issue #14 item 5): burst alerts from the social
posts stream, their delivery to supervisors with acknowledgement and escalation, playbooks per
crisis type, batch replies to a topic's posts and escalation records (升级上报)."""
