// A Node.js program that joins the trace of whoever started it.
//
//   traceexec --name nightly -- node node_child.js
//
// Needs: npm install @opentelemetry/api @opentelemetry/core @opentelemetry/resources
//        @opentelemetry/sdk-trace-base @opentelemetry/exporter-trace-otlp-http
// Its parent is TRACEPARENT/TRACESTATE in its environment; its spans go wherever
// OTEL_EXPORTER_OTLP_ENDPOINT says, under its own service.name.
const { ROOT_CONTEXT, defaultTextMapGetter, trace } = require("@opentelemetry/api");
const { W3CTraceContextPropagator } = require("@opentelemetry/core");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { BasicTracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http");

const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "node-child" }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
const tracer = provider.getTracer("node_child");

// Environment variables are upper case; the propagator asks for lower-case keys.
const carrier = { traceparent: process.env.TRACEPARENT, tracestate: process.env.TRACESTATE };
const parent = new W3CTraceContextPropagator().extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);

const work = tracer.startSpan("render-page", {}, parent);
const step = tracer.startSpan("template", {}, trace.setSpan(parent, work));
step.end();
work.end();
console.log("rendered");

provider.shutdown(); // flushes before exit
