//! Per-node limits across all jobs, with priority: at most `per_node` VM steps run on one
//! node at a time, whichever jobs they belong to, and a waiting urgent step (a student's
//! reset) gets the next free slot before waiting bulk steps (a 98-VM deploy).
//!
//! Written by hand: tokio's `Semaphore` is strictly first-come-first-served and no kept crate
//! offers a two-level async semaphore this small; it is a counter and two queues under one
//! mutex.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Urgent work goes first (`JobKind::priority` above zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    Bulk,
    Urgent,
}

#[derive(Default)]
struct Queue {
    free: usize,
    urgent: VecDeque<oneshot::Sender<()>>,
    bulk: VecDeque<oneshot::Sender<()>>,
}

/// (cluster id, node name).
type NodeKey = (i32, String);

/// One slot pool per node (cluster id, node name), made on first use.
pub struct NodeSlots {
    per_node: usize,
    nodes: Mutex<HashMap<NodeKey, Arc<Mutex<Queue>>>>,
}

/// A slot held; freed (and handed to the next waiter) on drop.
pub struct Slot(Arc<Mutex<Queue>>);

impl NodeSlots {
    pub fn new(per_node: usize) -> NodeSlots {
        NodeSlots {
            per_node: per_node.max(1),
            nodes: Mutex::new(HashMap::new()),
        }
    }

    pub async fn acquire(&self, cluster_id: i32, node: &str, urgency: Urgency) -> Slot {
        let queue = {
            let mut nodes = self.nodes.lock().expect("slots lock");
            nodes
                .entry((cluster_id, node.to_owned()))
                .or_insert_with(|| {
                    Arc::new(Mutex::new(Queue {
                        free: self.per_node,
                        ..Queue::default()
                    }))
                })
                .clone()
        };
        let wait = {
            let mut q = queue.lock().expect("slot queue lock");
            if q.free > 0 {
                q.free -= 1;
                None
            } else {
                let (tx, rx) = oneshot::channel();
                match urgency {
                    Urgency::Urgent => q.urgent.push_back(tx),
                    Urgency::Bulk => q.bulk.push_back(tx),
                }
                Some(rx)
            }
        };
        if let Some(rx) = wait {
            // The sender is only dropped after a slot was handed over, so an error cannot
            // mean "no slot"; a waiter whose future is dropped leaves a closed sender behind,
            // which `release` skips.
            let _ = rx.await;
        }
        Slot(queue)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut q = self.0.lock().expect("slot queue lock");
        loop {
            let next = q.urgent.pop_front().or_else(|| q.bulk.pop_front());
            match next {
                // Handed straight to the waiter: `free` stays as it is.
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    q.free += 1;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_urgent_waiter_gets_the_next_slot_before_older_bulk_waiters() {
        let slots = Arc::new(NodeSlots::new(1));
        let held = slots.acquire(1, "pve1", Urgency::Bulk).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (name, urgency) in [
            ("bulk-1", Urgency::Bulk),
            ("bulk-2", Urgency::Bulk),
            ("urgent", Urgency::Urgent),
        ] {
            let (slots, order) = (slots.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let _slot = slots.acquire(1, "pve1", urgency).await;
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
            // Queue them in this order.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["urgent", "bulk-1", "bulk-2"]);
    }

    #[tokio::test]
    async fn nodes_have_separate_limits_and_a_dropped_waiter_does_not_leak_a_slot() {
        let slots = NodeSlots::new(1);
        let a = slots.acquire(1, "pve1", Urgency::Bulk).await;
        // Another node is not limited by pve1.
        let b = tokio::time::timeout(
            Duration::from_millis(100),
            slots.acquire(1, "pve2", Urgency::Bulk),
        )
        .await
        .expect("pve2 has its own slot");
        // A waiter that gives up…
        let gave_up = tokio::time::timeout(
            Duration::from_millis(20),
            slots.acquire(1, "pve1", Urgency::Urgent),
        )
        .await;
        assert!(gave_up.is_err());
        drop(a);
        // …does not swallow the slot.
        tokio::time::timeout(
            Duration::from_millis(100),
            slots.acquire(1, "pve1", Urgency::Bulk),
        )
        .await
        .expect("the slot came back");
        drop(b);
    }
}
