// jetmesh-go is the Go side of jetmesh's interoperability tests
// (test/go-interop.test.ts): one binary, one subcommand per role, built on
// nats.go, its micro package and its jetstream package. Each prints one JSON
// object per line on stdout; an error is {"error": "..."} and exit code 1.
//
//	serve   -server URL -name NAME -subject SUBJECT
//	        a micro service with one endpoint on SUBJECT (queue group "q"), answering
//	        "go: <data>", or the micro error 404 "no such order" to "fail"; prints
//	        {"event":"ready"}, then {"event":"request","data":...} per request, and on
//	        SIGTERM, SIGINT or the end of stdin stops and prints {"event":"stopped","requests":N}
//	request -server URL -subject SUBJECT -data DATA [-timeout 10s]
//	        one core request (nc.Request); prints {"data":...,"headers":{...}}
//	publish -server URL -subject SUBJECT -data DATA [-timeout 10s]
//	        one JetStream publish; prints the ack {"stream":...,"seq":N,"duplicate":false}
//	consume -server URL -stream STREAM -subject SUBJECT -count N [-timeout 10s]
//	        reads N messages of SUBJECT from the start of STREAM with an ordered
//	        consumer; prints {"subject":...,"seq":N,"data":...,"headers":{...}} for each
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

var (
	outMu sync.Mutex
	out   = json.NewEncoder(os.Stdout)
)

// emit prints one JSON line.
func emit(v any) {
	outMu.Lock()
	defer outMu.Unlock()
	if err := out.Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "stdout:", err)
		os.Exit(2)
	}
}

func fail(err error) {
	emit(map[string]string{"error": err.Error()})
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: jetmesh-go serve|request|publish|consume -server URL ...")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	server := fs.String("server", nats.DefaultURL, "NATS server URL")
	subject := fs.String("subject", "", "subject")
	data := fs.String("data", "", "payload")
	name := fs.String("name", "", "micro service name (serve)")
	stream := fs.String("stream", "", "JetStream stream (consume)")
	count := fs.Int("count", 1, "messages to read (consume)")
	timeout := fs.Duration("timeout", 10*time.Second, "time-out of the operation")
	_ = fs.Parse(args)
	if *subject == "" {
		fail(errors.New("-subject is required"))
	}

	nc, err := nats.Connect(*server, nats.Name("jetmesh-go "+cmd), nats.Timeout(*timeout))
	if err != nil {
		fail(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	switch cmd {
	case "serve":
		serve(nc, *name, *subject)
	case "request":
		msg, err := nc.Request(*subject, []byte(*data), *timeout)
		if err != nil {
			fail(err)
		}
		emit(map[string]any{"data": string(msg.Data), "headers": msg.Header})
	case "publish":
		js, err := jetstream.New(nc)
		if err != nil {
			fail(err)
		}
		ack, err := js.Publish(ctx, *subject, []byte(*data))
		if err != nil {
			fail(err)
		}
		emit(map[string]any{"stream": ack.Stream, "seq": ack.Sequence, "duplicate": ack.Duplicate})
	case "consume":
		consume(ctx, nc, *stream, *subject, *count)
	default:
		fail(fmt.Errorf("unknown subcommand %q", cmd))
	}
}

// serve runs a micro service until SIGTERM, SIGINT or the end of stdin.
func serve(nc *nats.Conn, name, subject string) {
	handler := micro.HandlerFunc(func(req micro.Request) {
		emit(map[string]string{"event": "request", "data": string(req.Data())})
		if string(req.Data()) == "fail" {
			_ = req.Error("404", "no such order", nil)
			return
		}
		_ = req.Respond(append([]byte("go: "), req.Data()...))
	})
	svc, err := micro.AddService(nc, micro.Config{
		Name:        name,
		Version:     "0.3.0",
		Description: "a nats.go micro service",
		Metadata:    map[string]string{"lang": "go"},
		Endpoint:    &micro.EndpointConfig{Subject: subject, Handler: handler},
	})
	if err != nil {
		fail(err)
	}
	// the subscriptions are live on the server once the flush returns
	if err := nc.Flush(); err != nil {
		fail(err)
	}
	emit(map[string]string{"event": "ready", "id": svc.Info().ID})

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		// the test closes stdin (or dies): stop too
		_, _ = bufio.NewReader(os.Stdin).ReadString(0)
		done <- syscall.SIGTERM
	}()
	<-done
	var requests int
	for _, e := range svc.Stats().Endpoints {
		requests += e.NumRequests
	}
	_ = svc.Stop()
	emit(map[string]any{"event": "stopped", "requests": requests})
}

// consume reads count messages of subject from the start of stream.
func consume(ctx context.Context, nc *nats.Conn, stream, subject string, count int) {
	js, err := jetstream.New(nc)
	if err != nil {
		fail(err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		fail(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		fail(err)
	}
	for i := 0; i < count; i++ {
		wait := time.Until(deadlineOf(ctx))
		if wait <= 0 {
			fail(fmt.Errorf("read %d of %d messages", i, count))
		}
		msg, err := c.Next(jetstream.FetchMaxWait(wait))
		if err != nil {
			fail(fmt.Errorf("read %d of %d messages: %w", i, count, err))
		}
		meta, err := msg.Metadata()
		if err != nil {
			fail(err)
		}
		emit(map[string]any{
			"subject": msg.Subject(),
			"seq":     meta.Sequence.Stream,
			"data":    string(msg.Data()),
			"headers": msg.Headers(),
		})
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
