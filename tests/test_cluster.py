"""What a stage asks of a cluster, against what the cluster has: fits on some node or node type,
all at once when no autoscaler can add nodes, and outputs every node can see."""

import pytest

from metamath.cluster import Ask, Capacity, check_fit, check_shared_outputs, stage_asks
from metamath.config import load_config
from metamath.errors import ConfigError

TWO_SMALL = Capacity(nodes=[{"CPU": 0.0}, {"CPU": 1.0}, {"CPU": 1.0}], node_types=[])


def test_each_stage_asks_for_its_actors():
    cfg = load_config(None, ["augment.dataset=gsm8k", "teacher.backend=openai", "teacher.replicas=3",
                             "train.num_workers=2", "train.resources_per_worker={CPU: 8}", "train.use_gpu=true",
                             "train.global_batch_size=8", "evaluate.backend=vllm", "evaluate.replicas=2",
                             "evaluate.tensor_parallel_size=4", "evaluate.use_gpu=true"])
    assert stage_asks("augment", cfg) == [Ask("teacher.replicas", "API workers", {"CPU": 0.5}, 3)]
    assert stage_asks("train", cfg) == [Ask("train.num_workers", "training workers", {"CPU": 8.0, "GPU": 1.0}, 2)]
    assert stage_asks("evaluate", cfg) == [Ask("evaluate.replicas", "vLLM engines of 4 rank(s)", {"CPU": 1.0, "GPU": 1.0}, 8)]


def test_half_cpu_workers_fit_two_one_cpu_nodes_but_whole_cpu_workers_do_not_all_fit():
    check_fit(Ask("teacher.replicas", "API workers", {"CPU": 0.5}, 2), TWO_SMALL)
    check_fit(Ask("evaluate.replicas", "transformers workers", {"CPU": 1.0}, 2), TWO_SMALL)
    with pytest.raises(ConfigError, match=r"evaluate.replicas: asks 3 x \{CPU: 1\} \(transformers workers\), more than "
                                          r"this cluster holds at once: nodes \{CPU: 0\}, \{CPU: 1\}, \{CPU: 1\} \(no "
                                          r"autoscaler: no node will be added\); lower evaluate.replicas or add nodes"):
        check_fit(Ask("evaluate.replicas", "transformers workers", {"CPU": 1.0}, 3), TWO_SMALL)


def test_a_gpu_ask_on_a_cluster_without_gpus_fails_at_once_unless_a_node_type_has_them():
    ask = Ask("train.num_workers", "training workers", {"CPU": 8.0, "GPU": 1.0}, 8)
    with pytest.raises(ConfigError, match=r"no node of this cluster has \{CPU: 8, GPU: 1\}"):
        check_fit(ask, TWO_SMALL)
    # an autoscaler that can add 8-GPU nodes: the nodes come when asked for
    check_fit(ask, Capacity(nodes=[{"CPU": 0.0}], node_types=[{"CPU": 96.0, "GPU": 8.0}]))


def test_local_outputs_on_several_nodes_fail_unless_declared_shared():
    cfg = load_config(None, ["storage.shared_paths=[/mnt/shared]"])
    check_shared_outputs({"augment.output_dir": "s3://bucket/run", "evaluate.output_dir": "/mnt/shared/eval"}, cfg, TWO_SMALL)
    with pytest.raises(ConfigError, match=r"train.output_dir: 'outputs/train' is a folder on one machine, and this "
                                          r"cluster has 3 node\(s\): .* use a URI \(s3://BUCKET/...\), or list a folder "
                                          r"every node mounts under storage.shared_paths"):
        check_shared_outputs({"train.output_dir": "outputs/train"}, cfg, TWO_SMALL)
    check_shared_outputs({"train.output_dir": "outputs/train"}, cfg, Capacity([{"CPU": 2.0}], []))  # one node: fine
