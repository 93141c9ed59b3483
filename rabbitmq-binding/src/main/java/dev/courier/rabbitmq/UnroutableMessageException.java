package dev.courier.rabbitmq;

import dev.courier.PublishException;

/**
 * A message published with the mandatory flag was returned by the broker: no queue is bound to its
 * exchange with a matching routing key or headers. Retriable: a consumer may bind a queue later.
 */
public class UnroutableMessageException extends PublishException {

    private final int replyCode;
    private final String replyText;

    public UnroutableMessageException(String topic, String routingKey, int replyCode, String replyText) {
        super(topic, "the broker returned the message as unroutable (" + replyCode + " " + replyText + "): no queue is bound to exchange '"
                + topic + "' for routing key '" + routingKey + "'; subscribe a group first or publish without the mandatory flag", null, true);
        this.replyCode = replyCode;
        this.replyText = replyText;
    }

    public int replyCode() {
        return replyCode;
    }

    public String replyText() {
        return replyText;
    }
}
