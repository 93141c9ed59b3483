package dev.courier;

/**
 * An operation was attempted on a {@link Courier}, publisher or subscription that is already
 * closed. Create a new one; a closed instance never reopens.
 */
public class ClosedException extends CourierException {

    public ClosedException(String what) {
        super(what + " is closed; operations after close() are refused. Open a new Courier with Courier.connect(...)");
    }
}
