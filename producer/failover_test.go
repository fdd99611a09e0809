package producer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envKafkaCluster names the bootstrap list of the 3-node cluster started with
// deployments/local/kafka.sh cluster-start. The failover test SIGKILLs and
// restarts node 2 of that cluster through the same script.
const envKafkaCluster = "HOOKLINE_TEST_KAFKA_CLUSTER"

// Failover test timeline. franz-go keeps retrying the records bound for the
// dead broker until the controller fences it (broker.session.timeout.ms, 9 s
// by default) and moves leadership, so the outage phase is longer than that.
const (
	failoverWarmup     = 3 * time.Second // producing on the healthy cluster
	failoverOutage     = 6 * time.Second // producing with node 2 killed, before its restart begins
	failoverAfter      = 3 * time.Second // producing once node 2 is back
	failoverPublishGap = 2 * time.Millisecond
	failoverPartitions = 6
	failoverKillNode   = "2"
)

// TestFailoverNoAcknowledgedLoss publishes continuously to a topic with
// replication factor 3 and min.insync.replicas=2 while one broker is killed
// and later restarted, then reads the whole topic back: every event whose
// publish was acknowledged must be there. Publishes that were never
// acknowledged are allowed (and counted).
func TestFailoverNoAcknowledgedLoss(t *testing.T) {
	bootstrap := os.Getenv(envKafkaCluster)
	if bootstrap == "" {
		t.Skip("set HOOKLINE_TEST_KAFKA_CLUSTER to the bootstrap list of the 3-node cluster (deployments/local/kafka.sh cluster-start; cluster-bootstrap prints it)")
	}
	brokers := strings.Split(bootstrap, ",")
	script, err := filepath.Abs(filepath.Join("..", "deployments", "local", "kafka.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("cluster control script: %v", err)
	}
	kafkaSh := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.WaitDelay = 5 * time.Second
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("kafka.sh %s (%.1fs): %s", strings.Join(args, " "), time.Since(start).Seconds(), strings.TrimSpace(string(out)))
		if err != nil {
			return fmt.Errorf("kafka.sh %s: %w", strings.Join(args, " "), err)
		}
		return nil
	}

	// A node left down by an earlier, interrupted run comes back first; and
	// whatever happens below, the node is running again when the test ends.
	if err := kafkaSh("start-broker", failoverKillNode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := kafkaSh("start-broker", failoverKillNode); err != nil {
			t.Errorf("restarting broker %s after the test: %v", failoverKillNode, err)
		}
	})

	k := testbackend.Kafka{Name: "kafka-cluster", Brokers: brokers}
	adm := k.Admin(t)
	topic := testbackend.UniqueName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, failoverPartitions, 3,
		map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	leaders := waitFullyReplicated(t, adm, topic, failoverPartitions)
	t.Logf("topic %s: %d partitions, RF 3, min.insync.replicas=2, leaders %v", topic, failoverPartitions, leaders)

	p, err := producer.New(producer.Config{Brokers: brokers, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	pubCtx, cancelPub := context.WithCancel(context.Background())
	defer cancelPub()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})

	var (
		mu        sync.Mutex
		acked     = make(map[string]struct{})
		failed    int
		failSeen  []string
		killedAt  time.Time // zero until node 2 is killed
		afterKill int       // acks, arriving after the kill, of events published after it
		firstAck  time.Duration
	)
	var produced atomic.Int64
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		gen := demo.NewGenerator(20260430)
		gen.Origin = "failover-test"
		tick := time.NewTicker(failoverPublishGap)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ev := gen.Next()
			ev.EventID = fmt.Sprintf("failover:%07d", i)
			mu.Lock()
			sentAfterKill := !killedAt.IsZero()
			mu.Unlock()
			produced.Add(1)
			p.PublishAsync(pubCtx, ev, func(r producer.Published, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					if len(failSeen) < 5 {
						failSeen = append(failSeen, err.Error())
					}
					return
				}
				acked[r.EventID] = struct{}{}
				if sentAfterKill {
					if afterKill == 0 {
						firstAck = time.Since(killedAt)
					}
					afterKill++
				}
			})
		}
	}()
	stopProducing := sync.OnceFunc(func() {
		close(stop)
		<-loopDone
	})
	defer stopProducing()

	snapshot := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked), failed
	}

	time.Sleep(failoverWarmup)
	a, f := snapshot()
	t.Logf("before kill: produced=%d acknowledged=%d failed=%d", produced.Load(), a, f)

	if err := kafkaSh("kill-broker", failoverKillNode); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	time.Sleep(failoverOutage)
	a, f = snapshot()
	t.Logf("broker %s down %s: produced=%d acknowledged=%d failed=%d", failoverKillNode, failoverOutage, produced.Load(), a, f)

	if err := kafkaSh("start-broker", failoverKillNode); err != nil {
		t.Fatal(err)
	}
	time.Sleep(failoverAfter)
	stopProducing()

	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 60*time.Second)
	if err := p.Flush(flushCtx); err != nil {
		t.Logf("flush: %v (events still unacknowledged are failed now)", err)
		cancelPub()
	}
	cancelFlush()

	mu.Lock()
	ackedIDs := make([]string, 0, len(acked))
	for id := range acked {
		ackedIDs = append(ackedIDs, id)
	}
	nFailed, errs := failed, slices.Clone(failSeen)
	nAfterKill, stall := afterKill, firstAck
	mu.Unlock()
	n := produced.Load()
	slices.Sort(ackedIDs)

	consumed, dups := readEventIDs(t, k, adm, topic)
	var lost []string
	for _, id := range ackedIDs {
		if _, ok := consumed[id]; !ok {
			lost = append(lost, id)
		}
	}
	nConsumed := 0
	for _, c := range consumed {
		nConsumed += c
	}

	line := fmt.Sprintf("failover: produced=%d acknowledged=%d consumed=%d lost=%d", n, len(ackedIDs), nConsumed, len(lost))
	t.Log(line)
	fmt.Println(line)
	t.Logf("failover: failed=%d unresolved=%d duplicates=%d acked-after-kill=%d first-ack-after-kill=%s",
		nFailed, n-int64(len(ackedIDs))-int64(nFailed), dups, nAfterKill, stall.Round(time.Millisecond))
	for _, e := range errs {
		t.Logf("failed publish: %s", e)
	}

	if len(ackedIDs) == 0 {
		t.Fatal("no publish was acknowledged")
	}
	if nAfterKill == 0 {
		t.Errorf("no event published after broker %s was killed was acknowledged: the failover was not exercised", failoverKillNode)
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged events are missing from %s, e.g. %v", len(lost), topic, lost[:min(len(lost), 10)])
	}
}

// waitFullyReplicated waits until every partition of topic has a leader and
// all 3 replicas in sync, and returns the leader per partition.
func waitFullyReplicated(t *testing.T, adm *kadm.Client, topic string, partitions int) map[int32]int32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		md, err := adm.Metadata(ctx, topic)
		cancel()
		leaders := make(map[int32]int32)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil {
				for _, pd := range td.Partitions {
					if pd.Err == nil && pd.Leader >= 0 && len(pd.ISR) == 3 {
						leaders[pd.Partition] = pd.Leader
					}
				}
			}
		}
		if len(leaders) == partitions {
			return leaders
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: %d of %d partitions fully replicated after 30s (last error: %v)", topic, len(leaders), partitions, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readEventIDs reads topic from the start up to the current high watermarks
// and returns how often each eventId (from the record header) was seen, and
// how many records repeated an id already seen.
func readEventIDs(t *testing.T, k testbackend.Kafka, adm *kadm.Client, topic string) (map[string]int, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	want := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	c := k.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := make(map[string]int)
	dups := 0
	for len(want) > 0 {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions not read to their end offsets in 60s: %v", topic, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			var env struct {
				EventID string `json:"eventId"`
			}
			if err := json.Unmarshal(r.Value, &env); err != nil || env.EventID == "" {
				t.Errorf("record %d/%d has no eventId: %v", r.Partition, r.Offset, err)
			}
			id := env.EventID
			if seen[id] > 0 {
				dups++
			}
			seen[id]++
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return seen, dups
}
