"""The lifecycle policy as ECR reads it: every rule's action is `expire` (the only one ECR has), priorities
are unique and the untagged rule is evaluated first
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html)."""

from __future__ import annotations

import json

from components.registry import lifecycle_policy


def test_every_rule_expires_images_and_the_untagged_one_comes_first():
    rules = json.loads(lifecycle_policy(keep_tagged_images=20, untagged_expiry_days=5))["rules"]

    assert [rule["action"] for rule in rules] == [{"type": "expire"}, {"type": "expire"}]
    priorities = [rule["rulePriority"] for rule in rules]
    assert len(set(priorities)) == len(priorities) and all(isinstance(p, int) and p >= 1 for p in priorities)
    untagged, tagged = sorted(rules, key=lambda rule: rule["rulePriority"])
    assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 5}
    assert tagged["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20}
