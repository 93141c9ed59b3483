package dev.courier;

/**
 * An operation was attempted on a {@link Courier}, publisher or subscription that is already
 * closed. Create a new one; a closed instance never reopens.
 */
public class ClosedException extends CourierException {

    public ClosedException(String what) {
        super(what + " is closed; operations after close() are refused. Open a new Courier with Courier.connect(...)");
    }

    private ClosedException(String message, Void full) {
        super(message);
    }

    /**
     * For an operation that was still under way when its Courier closed, such as a request waiting
     * for its reply: {@code what} names it.
     */
    public static ClosedException cutShort(String what) {
        return new ClosedException(what + " was cut short: its Courier closed meanwhile. Open a new Courier with Courier.connect(...) and try again", null);
    }
}
