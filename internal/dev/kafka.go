package dev

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is the embedded broker of `hookline dev`.
type Kafka struct {
	*kfake.Cluster
	Addr string
}

// StartKafka starts an in-process Kafka on 127.0.0.1:port that persists
// under dir, so a restart keeps topics, records and committed offsets.
// Port 0 picks a free port. Topics are auto-created with partitions.
func StartKafka(dir string, port int, partitions int32) (*Kafka, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded kafka: data dir: %w", err)
	}
	if port != 0 {
		// kfake would fail later with a less helpful message.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("embedded kafka: port %d is taken (another Kafka or hookline dev?); pick another with --kafka-port: %w", port, err)
		}
		_ = l.Close()
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "500"}),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return &Kafka{Cluster: c, Addr: c.ListenAddrs()[0]}, nil
}
