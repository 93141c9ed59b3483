package dev.courier.testkit.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class EmbeddedKafkaTest {

    private static final Duration CONSUME_TIMEOUT = Duration.ofSeconds(60);

    @Test
    void brokerCarriesRecordsInOrderPerPartition() throws Exception {
        // the shared embedded broker, or the one named by COURIER_TEST_KAFKA_URL
        String bootstrap = KafkaFixture.bootstrapServers();
        String topic = "orders-" + UUID.randomUUID();
        createTopic(bootstrap, topic, 3);

        try (KafkaProducer<String, String> producer = producer(bootstrap)) {
            for (int i = 0; i < 100; i++) {
                producer.send(new ProducerRecord<>(topic, "key-" + (i % 7), "value-" + i));
            }
            producer.flush();
        }

        List<ConsumerRecord<String, String>> records;
        try (KafkaConsumer<String, String> consumer = consumer(bootstrap, "group-" + UUID.randomUUID())) {
            consumer.subscribe(List.of(topic));
            records = pollUntil(consumer, 100);
        }

        assertThat(records).hasSize(100);
        assertThat(records.stream().map(ConsumerRecord::value).collect(Collectors.toSet()))
                .isEqualTo(expectedValues(0, 100));
        Map<Integer, List<ConsumerRecord<String, String>>> byPartition = records.stream()
                .collect(Collectors.groupingBy(ConsumerRecord::partition, TreeMap::new, Collectors.toList()));
        assertThat(byPartition.keySet()).isSubsetOf(0, 1, 2);
        byPartition.forEach((partition, list) -> {
            // same key -> same partition; within a partition the send order is kept
            List<Integer> sequence = list.stream().map(r -> Integer.parseInt(r.value().substring(6))).toList();
            assertThat(sequence).as("partition %d", partition).isSorted();
            for (int i = 0; i < list.size(); i++) {
                assertThat(list.get(i).offset()).as("offset in partition %d", partition).isEqualTo(i);
            }
            list.forEach(r -> assertThat(r.key()).isEqualTo("key-" + Integer.parseInt(r.value().substring(6)) % 7));
        });
    }

    @Test
    void keepsDataAndPortsAcrossStopKillAndStart() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.builder().partitions(1).build().start()) {
            int port = kafka.port();
            String bootstrap = kafka.bootstrapServers();
            assertThat(bootstrap).isEqualTo("127.0.0.1:" + port);
            assertThat(kafka.url()).isEqualTo("kafka://127.0.0.1:" + port);
            assertThat(kafka.isRunning()).isTrue();
            assertThat(kafka.logTail(10_000)).contains("Starting Kafka broker on " + bootstrap);
            String topic = "restart-" + UUID.randomUUID();
            createTopic(bootstrap, topic, 1);
            produce(bootstrap, topic, 0, 10);

            // graceful stop: the broker is unreachable, a send fails within its bounded timeouts
            kafka.stop();
            assertThat(kafka.isRunning()).isFalse();
            assertThat(kafka.pid()).isEqualTo(-1);
            try (KafkaProducer<String, String> producer = producer(bootstrap, Map.of(
                    ProducerConfig.MAX_BLOCK_MS_CONFIG, "2000",
                    ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "1000",
                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "2000"))) {
                assertThatThrownBy(() -> producer.send(new ProducerRecord<>(topic, "down")).get(20, TimeUnit.SECONDS))
                        .isInstanceOfAny(ExecutionException.class, TimeoutException.class,
                                org.apache.kafka.common.errors.TimeoutException.class);
            }

            kafka.start();
            assertThat(kafka.port()).isEqualTo(port);
            produce(bootstrap, topic, 10, 20);
            assertThat(readAll(bootstrap, topic)).containsExactlyElementsOf(expectedList(0, 20));

            // hard kill: no clean shutdown, Kafka recovers the log on the next start
            long pidBefore = kafka.pid();
            kafka.kill();
            assertThat(kafka.isRunning()).isFalse();
            assertThat(ProcessHandle.of(pidBefore).map(ProcessHandle::isAlive).orElse(false)).isFalse();

            kafka.restart();
            assertThat(kafka.port()).isEqualTo(port);
            produce(bootstrap, topic, 20, 30);
            assertThat(readAll(bootstrap, topic)).containsExactlyElementsOf(expectedList(0, 30));
        }
    }

    @Test
    void sharedBrokerIsStartedOnceAndAnswers() throws Exception {
        EmbeddedKafka kafka = EmbeddedKafka.shared();
        assertThat(EmbeddedKafka.shared()).isSameAs(kafka);
        assertThat(kafka.isRunning()).isTrue();
        assertThat(kafka.pid()).isPositive();
        try (Admin admin = EmbeddedKafka.newAdmin(kafka.bootstrapServers())) {
            assertThat(admin.describeCluster().clusterId().get(30, TimeUnit.SECONDS)).isEqualTo(kafka.clusterId());
        }
    }

    @Test
    void startupFailureReportsTheBrokerLog() {
        try (EmbeddedKafka kafka = EmbeddedKafka.builder()
                .brokerProperty("num.io.threads", "not-a-number")
                .startupTimeout(Duration.ofSeconds(30))
                .build()) {
            assertThatThrownBy(kafka::start)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("exited with code")
                    .hasMessageContaining("num.io.threads")
                    .hasMessageContaining("scripts/kafka.sh start")
                    .hasMessageContaining("COURIER_TEST_KAFKA_URL");
            assertThat(kafka.isRunning()).isFalse();
        }
    }

    // ------------------------------------------------------------------ helpers

    private static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
        try (Admin admin = EmbeddedKafka.newAdmin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
    }

    private static void produce(String bootstrap, String topic, int from, int to) throws Exception {
        try (KafkaProducer<String, String> producer = producer(bootstrap)) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, "value-" + i)).get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static List<String> readAll(String bootstrap, String topic) {
        try (KafkaConsumer<String, String> consumer = consumer(bootstrap, null)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
            List<ConsumerRecord<String, String>> records = pollUntil(consumer, (int) end);
            return records.stream().map(ConsumerRecord::value).toList();
        }
    }

    private static List<ConsumerRecord<String, String>> pollUntil(KafkaConsumer<String, String> consumer, int count) {
        List<ConsumerRecord<String, String>> records = new ArrayList<>();
        long deadline = System.nanoTime() + CONSUME_TIMEOUT.toNanos();
        while (records.size() < count && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(500)).forEach(records::add);
        }
        return records;
    }

    private static KafkaProducer<String, String> producer(String bootstrap) {
        return producer(bootstrap, Map.of());
    }

    private static KafkaProducer<String, String> producer(String bootstrap, Map<String, String> extra) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.putAll(extra);
        return new KafkaProducer<>(props, new StringSerializer(), new StringSerializer());
    }

    private static KafkaConsumer<String, String> consumer(String bootstrap, String group) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (group != null) {
            props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        return new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer());
    }

    private static Set<String> expectedValues(int from, int to) {
        return Set.copyOf(expectedList(from, to));
    }

    private static List<String> expectedList(int from, int to) {
        List<String> values = new ArrayList<>();
        for (int i = from; i < to; i++) {
            values.add("value-" + i);
        }
        return values;
    }
}
