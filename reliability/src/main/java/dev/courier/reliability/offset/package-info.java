/**
 * Offset tracking and parallel dispatch for log-based consumers (Kafka-style partitions with
 * monotonically increasing offsets), independent of any broker client.
 *
 * <p>The entry point is {@link dev.courier.reliability.offset.OffsetCommitCoordinator}: a poll loop
 * submits every polled record to it, the coordinator decides which records may run now (per
 * {@link dev.courier.reliability.offset.OrderingMode}), runs them through a pluggable executor,
 * and tells the poll loop which offsets are safe to commit and which partitions to pause.
 */
package dev.courier.reliability.offset;
