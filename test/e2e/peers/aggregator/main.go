// Command aggregator runs the upstream ClusterRole aggregation controller (the one
// kube-controller-manager runs inside K3s) against an apiserver, so roles built from
// aggregationRule selectors get their rules in the e2e suite exactly as in a cluster.
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/kubernetes/pkg/controller/clusterroleaggregation"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of an identity allowed to update ClusterRoles")
	flag.Parse()
	if *kubeconfig == "" {
		log.Fatal("--kubeconfig is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	controller := clusterroleaggregation.NewClusterRoleAggregation(
		factory.Rbac().V1().ClusterRoles(), client.RbacV1())
	factory.Start(ctx.Done())
	log.Print("aggregator started")
	controller.Run(ctx, 2)
}
