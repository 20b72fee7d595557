#!/usr/bin/env bash
# Run a kafkalite tool by Kafka class name or Python module, as Kafka's bin/kafka-run-class.sh does.
# Python: $KAFKALITE_PYTHON, else the checkout's .venv, else python3.
base=$(cd "$(dirname "$0")/.." && pwd)
py=${KAFKALITE_PYTHON:-}
if [ -z "$py" ]; then
  if [ -x "$base/.venv/bin/python" ]; then py="$base/.venv/bin/python"; else py=python3; fi
fi
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]" >&2
  exit 1
fi
class=$1; shift
case "$class" in
  kafka.Kafka) mod=kafkalite.cli.server ;;
  kafka.admin.TopicCommand) mod=kafkalite.cli.topics ;;
  kafka.admin.ConsumerGroupCommand) mod=kafkalite.cli.consumer_groups ;;
  kafka.admin.ConfigCommand) mod=kafkalite.cli.configs ;;
  kafka.admin.AclCommand) mod=kafkalite.cli.acls ;;
  kafka.admin.LogDirsCommand) mod=kafkalite.cli.log_dirs ;;
  kafka.tools.ConsoleProducer) mod=kafkalite.cli.console_producer ;;
  kafka.tools.ConsoleConsumer) mod=kafkalite.cli.console_consumer ;;
  kafka.admin.DeleteRecordsCommand) mod=kafkalite.cli.delete_records ;;
  kafka.admin.LeaderElectionCommand) mod=kafkalite.cli.leader_election ;;
  kafka.admin.PreferredReplicaLeaderElectionCommand) mod=kafkalite.cli.preferred_replica_election ;;
  kafka.tools.DumpLogSegments) mod=kafkalite.cli.dump_log ;;
  kafka.admin.ReassignPartitionsCommand) mod=kafkalite.cli.reassign_partitions ;;
  kafka.tools.ReplicaVerificationTool) mod=kafkalite.cli.replica_verification ;;
  org.apache.kafka.tools.TransactionsCommand) mod=kafkalite.cli.transactions ;;
  kafka.tools.ProducerPerformance|org.apache.kafka.tools.ProducerPerformance) mod=kafkalite.cli.producer_perf_test ;;
  kafka.tools.ConsumerPerformance) mod=kafkalite.cli.consumer_perf_test ;;
  org.apache.kafka.tools.VerifiableProducer) mod=kafkalite.cli.verifiable_producer ;;
  org.apache.kafka.tools.VerifiableConsumer) mod=kafkalite.cli.verifiable_consumer ;;
  kafka.tools.MirrorMaker) mod=kafkalite.cli.mirror_maker ;;
  kafka.admin.BrokerApiVersionsCommand) mod=kafkalite.cli.broker_api_versions ;;
  kafka.tools.GetOffsetShell) mod=kafkalite.cli.get_offsets ;;
  org.apache.zookeeper.server.quorum.QuorumPeerMain) mod=kafkalite.cli.zookeeper_tools ;;
  kafkalite.*) mod=$class ;;
  *) echo "kafka-run-class.sh: unknown class $class" >&2; exit 1 ;;
esac
export PYTHONPATH="$base${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m "$mod" "$@"
