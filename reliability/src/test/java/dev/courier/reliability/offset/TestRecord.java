package dev.courier.reliability.offset;

/** The payload tests push through the coordinator: enough to tell records apart. */
record TestRecord(PartitionId partition, long offset, String key) {

    @Override
    public String toString() {
        return partition + "@" + offset + (key == null ? "" : "[" + key + "]");
    }
}
