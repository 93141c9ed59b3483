package dev.courier.reliability.offset;

import java.util.ArrayList;
import java.util.List;

/** A failure handler that only remembers what failed, leaving resolution to the test. */
final class RecordingFailures implements FailureHandler<TestRecord> {

    private final List<InFlightRecord<TestRecord>> failed = new ArrayList<>();
    private final List<Throwable> causes = new ArrayList<>();

    @Override
    public synchronized void onFailure(InFlightRecord<TestRecord> record, Throwable cause) {
        failed.add(record);
        causes.add(cause);
    }

    synchronized InFlightRecord<TestRecord> only() {
        if (failed.size() != 1) {
            throw new AssertionError("expected exactly one failure but got " + failed);
        }
        return failed.get(0);
    }

    synchronized InFlightRecord<TestRecord> last() {
        return failed.get(failed.size() - 1);
    }

    synchronized Throwable lastCause() {
        return causes.get(causes.size() - 1);
    }

    synchronized int count() {
        return failed.size();
    }
}
