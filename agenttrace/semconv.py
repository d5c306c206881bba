"""Attribute names, in one place.

``gen_ai.*`` names come from the official ``opentelemetry-semantic-conventions`` registry (never
spelled by hand, never the deprecated ones); ``openinference`` names are the mirror Arize Phoenix
renders; ``agenttrace.*`` names cover what the GenAI conventions leave open (retries, routing,
LangGraph structure). Every ``agenttrace.*`` name is documented in docs/attributes.md.
"""

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _g
from opentelemetry.semconv._incubating.attributes import openai_attributes as _oai
from opentelemetry.semconv.attributes import error_attributes as _err
from opentelemetry.semconv.attributes import exception_attributes as _exc
from opentelemetry.semconv.attributes import http_attributes as _http

# --- OTel GenAI semantic conventions -------------------------------------------------------
OPERATION = _g.GEN_AI_OPERATION_NAME
PROVIDER = _g.GEN_AI_PROVIDER_NAME
REQUEST_MODEL = _g.GEN_AI_REQUEST_MODEL
REQUEST_TEMPERATURE = _g.GEN_AI_REQUEST_TEMPERATURE
REQUEST_MAX_TOKENS = _g.GEN_AI_REQUEST_MAX_TOKENS
REQUEST_TOP_P = _g.GEN_AI_REQUEST_TOP_P
REQUEST_TOP_K = _g.GEN_AI_REQUEST_TOP_K
REQUEST_FREQUENCY_PENALTY = _g.GEN_AI_REQUEST_FREQUENCY_PENALTY
REQUEST_PRESENCE_PENALTY = _g.GEN_AI_REQUEST_PRESENCE_PENALTY
REQUEST_SEED = _g.GEN_AI_REQUEST_SEED
REQUEST_STOP_SEQUENCES = _g.GEN_AI_REQUEST_STOP_SEQUENCES
REQUEST_CHOICE_COUNT = _g.GEN_AI_REQUEST_CHOICE_COUNT
REQUEST_STREAM = _g.GEN_AI_REQUEST_STREAM
RESPONSE_MODEL = _g.GEN_AI_RESPONSE_MODEL
RESPONSE_ID = _g.GEN_AI_RESPONSE_ID
RESPONSE_FINISH_REASONS = _g.GEN_AI_RESPONSE_FINISH_REASONS
RESPONSE_TIME_TO_FIRST_CHUNK = _g.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
USAGE_INPUT_TOKENS = _g.GEN_AI_USAGE_INPUT_TOKENS
USAGE_OUTPUT_TOKENS = _g.GEN_AI_USAGE_OUTPUT_TOKENS
USAGE_CACHE_READ_INPUT_TOKENS = _g.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
USAGE_CACHE_CREATION_INPUT_TOKENS = _g.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
USAGE_REASONING_OUTPUT_TOKENS = _g.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
AGENT_NAME = _g.GEN_AI_AGENT_NAME
WORKFLOW_NAME = _g.GEN_AI_WORKFLOW_NAME
CONVERSATION_ID = _g.GEN_AI_CONVERSATION_ID
TOOL_NAME = _g.GEN_AI_TOOL_NAME
TOOL_CALL_ID = _g.GEN_AI_TOOL_CALL_ID
TOOL_TYPE = _g.GEN_AI_TOOL_TYPE
TOOL_DESCRIPTION = _g.GEN_AI_TOOL_DESCRIPTION
TOOL_CALL_ARGUMENTS = _g.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_CALL_RESULT = _g.GEN_AI_TOOL_CALL_RESULT
DATA_SOURCE_ID = _g.GEN_AI_DATA_SOURCE_ID
RETRIEVAL_QUERY_TEXT = _g.GEN_AI_RETRIEVAL_QUERY_TEXT
RETRIEVAL_DOCUMENTS = _g.GEN_AI_RETRIEVAL_DOCUMENTS
EMBEDDINGS_DIMENSION_COUNT = _g.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
INPUT_MESSAGES = _g.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = _g.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS = _g.GEN_AI_SYSTEM_INSTRUCTIONS
OPENAI_SYSTEM_FINGERPRINT = _oai.OPENAI_RESPONSE_SYSTEM_FINGERPRINT
ERROR_TYPE = _err.ERROR_TYPE
HTTP_STATUS_CODE = _http.HTTP_RESPONSE_STATUS_CODE
EXCEPTION_TYPE = _exc.EXCEPTION_TYPE
EXCEPTION_MESSAGE = _exc.EXCEPTION_MESSAGE
EXCEPTION_STACKTRACE = _exc.EXCEPTION_STACKTRACE
OUTPUT_TYPE = _g.GEN_AI_OUTPUT_TYPE
TOKEN_TYPE = _g.GEN_AI_TOKEN_TYPE
TOKEN_TYPE_INPUT = _g.GenAiTokenTypeValues.INPUT.value
TOKEN_TYPE_OUTPUT = _g.GenAiTokenTypeValues.OUTPUT.value
OUTPUT_TYPE_JSON = _g.GenAiOutputTypeValues.JSON.value

OP_CHAT = _g.GenAiOperationNameValues.CHAT.value
OP_TEXT_COMPLETION = _g.GenAiOperationNameValues.TEXT_COMPLETION.value
OP_EMBEDDINGS = _g.GenAiOperationNameValues.EMBEDDINGS.value
OP_EXECUTE_TOOL = _g.GenAiOperationNameValues.EXECUTE_TOOL.value
OP_INVOKE_AGENT = _g.GenAiOperationNameValues.INVOKE_AGENT.value
OP_INVOKE_WORKFLOW = _g.GenAiOperationNameValues.INVOKE_WORKFLOW.value
OP_RETRIEVAL = _g.GenAiOperationNameValues.RETRIEVAL.value

_P = _g.GenAiProviderNameValues
#: LangChain's ``ls_provider`` → the registry's well-known ``gen_ai.provider.name`` values.
PROVIDER_BY_LS = {
    "openai": _P.OPENAI.value,
    "azure": _P.AZURE_AI_OPENAI.value,
    "azure_openai": _P.AZURE_AI_OPENAI.value,
    "anthropic": _P.ANTHROPIC.value,
    "bedrock": _P.AWS_BEDROCK.value,
    "amazon_bedrock": _P.AWS_BEDROCK.value,
    "google_vertexai": _P.GCP_VERTEX_AI.value,
    "google_genai": _P.GCP_GEN_AI.value,
    "google_gemini": _P.GCP_GEMINI.value,
    "mistralai": _P.MISTRAL_AI.value,
    "mistral": _P.MISTRAL_AI.value,
    "groq": _P.GROQ.value,
    "cohere": _P.COHERE.value,
    "deepseek": _P.DEEPSEEK.value,
    "xai": _P.X_AI.value,
    "perplexity": _P.PERPLEXITY.value,
    "ibm": _P.IBM_WATSONX_AI.value,
    "watsonx": _P.IBM_WATSONX_AI.value,
}

# --- OpenInference mirror (rendered by Arize Phoenix) --------------------------------------
OI_SPAN_KIND = "openinference.span.kind"
OI_INPUT_VALUE = "input.value"
OI_INPUT_MIME = "input.mime_type"
OI_OUTPUT_VALUE = "output.value"
OI_OUTPUT_MIME = "output.mime_type"
OI_LLM_MODEL = "llm.model_name"
OI_LLM_PROVIDER = "llm.provider"
OI_LLM_INVOCATION_PARAMETERS = "llm.invocation_parameters"
OI_LLM_INPUT_MESSAGES = "llm.input_messages"
OI_LLM_OUTPUT_MESSAGES = "llm.output_messages"
OI_TOKENS_PROMPT = "llm.token_count.prompt"
OI_TOKENS_COMPLETION = "llm.token_count.completion"
OI_TOKENS_TOTAL = "llm.token_count.total"
OI_TOOL_NAME = "tool.name"
OI_TOOL_DESCRIPTION = "tool.description"
OI_TOOL_CALL_ID = "tool_call.id"
OI_RETRIEVAL_DOCUMENTS = "retrieval.documents"
OI_EMBEDDING_MODEL = "embedding.model_name"
OI_SESSION_ID = "session.id"
OI_USER_ID = "user.id"
OI_METADATA = "metadata"
OI_TAGS = "tag.tags"
OI_PROJECT_NAME = "openinference.project.name"  # resource attribute
OI_LLM_SYSTEM = "llm.system"
OI_LLM_FINISH_REASON = "llm.finish_reason"
OI_LLM_PROMPTS = "llm.prompts"
OI_LLM_TOOLS = "llm.tools"  # llm.tools.{i}.tool.json_schema
OI_LLM_FUNCTION_CALL = "llm.function_call"
OI_PROMPT_TEMPLATE = "llm.prompt_template.template"
OI_PROMPT_TEMPLATE_VARIABLES = "llm.prompt_template.variables"
OI_PROMPT_TEMPLATE_VERSION = "llm.prompt_template.version"
OI_TOKENS_PROMPT_AUDIO = "llm.token_count.prompt_details.audio"
OI_TOKENS_PROMPT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OI_TOKENS_PROMPT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
OI_TOKENS_COMPLETION_AUDIO = "llm.token_count.completion_details.audio"
OI_TOKENS_COMPLETION_REASONING = "llm.token_count.completion_details.reasoning"
# keys inside llm.input_messages.{i}. / llm.output_messages.{i}. and retrieval.documents.{i}.
OI_MESSAGE_ROLE = "message.role"
OI_MESSAGE_CONTENT = "message.content"
OI_MESSAGE_CONTENTS = "message.contents"  # message.contents.{j}.message_content.type|text|image.image.url
OI_MESSAGE_NAME = "message.name"
OI_MESSAGE_TOOL_CALL_ID = "message.tool_call_id"
OI_MESSAGE_TOOL_CALLS = "message.tool_calls"  # message.tool_calls.{j}.tool_call.id|function.name|function.arguments
OI_MESSAGE_FUNCTION_CALL_NAME = "message.function_call_name"
OI_MESSAGE_FUNCTION_CALL_ARGUMENTS = "message.function_call_arguments_json"
OI_DOCUMENT = "document"  # retrieval.documents.{i}.document.id|content|metadata|score
JSON_MIME = "application/json"
TEXT_MIME = "text/plain"

# --- agenttrace.* (documented in docs/attributes.md) ----------------------------------------
RUN_ID = "agenttrace.run.id"
RUN_EXPIRED = "agenttrace.run.expired"
RUN_INPUT = "agenttrace.run.input"
RUN_OUTPUT = "agenttrace.run.output"
GRAPH_NODE = "agenttrace.graph.node"
GRAPH_STEP = "agenttrace.graph.step"
GRAPH_TRIGGERS = "agenttrace.graph.triggers"
RETRY_ATTEMPT = "agenttrace.retry.attempt"
RETRY_COUNT = "agenttrace.retry.count"
RETRY_EXHAUSTED = "agenttrace.retry.exhausted"
RETRY_WAIT_MS = "agenttrace.retry.wait_ms"
RETRY_PREVIOUS_ERROR_TYPE = "agenttrace.retry.previous_error.type"
RETRY_PREVIOUS_STATUS_CODE = "agenttrace.retry.previous_error.status_code"
RETRY_AFTER_MS = "agenttrace.retry.retry_after_ms"
RETRY_POLICY_MAX_ATTEMPTS = "agenttrace.retry.policy.max_attempts"
RETRY_POLICY_JITTER = "agenttrace.retry.policy.exponential_jitter"
RETRY_POLICY_EXCEPTION_TYPES = "agenttrace.retry.policy.exception_types"
RETRY_STORM_EVENT = "agenttrace.retry_storm"
RETRY_STORM_KIND = "agenttrace.retry_storm.kind"
RETRY_STORM_AMPLIFICATION = "agenttrace.retry_storm.amplification"
RETRY_STORM_JITTER_MISSING = "agenttrace.retry_storm.jitter_missing"
RETRY_STORM_DETECTED_AT = "agenttrace.retry_storm.detected_at"
ROUTE_SOURCE = "agenttrace.route.source"
ROUTE_TARGET = "agenttrace.route.target"
ROUTE_CONDITION = "agenttrace.route.condition"
ROUTE_EVENT = "agenttrace.route"
INTERRUPTED = "agenttrace.interrupted"
INTERRUPT_EVENT = "agenttrace.interrupt"
INTERRUPT_ID = "agenttrace.interrupt.id"
INTERRUPT_VALUE = "agenttrace.interrupt.value"
CANCELLED = "agenttrace.cancelled"
HANDOFF_EVENT = "agenttrace.handoff"
FALLBACK_INDEX = "agenttrace.fallback.index"
FALLBACK_FAILED = "agenttrace.fallback.failed"
AGENT_PROVIDERS = "agenttrace.agent.providers"
AGENT_REQUEST_MODELS = "agenttrace.agent.request_models"
INTERNAL_ERROR = "agenttrace.internal_error"
SYSTEM_FINGERPRINT = "agenttrace.response.system_fingerprint"
STREAMED_CHUNKS = "agenttrace.response.chunks"
RETRIEVAL_DOCUMENT_COUNT = "agenttrace.retrieval.document_count"
EMBEDDINGS_INPUT_COUNT = "agenttrace.embeddings.input_count"
RETRY_EVENT = "agenttrace.retry"
CONTENT_TRUNCATED = "agenttrace.content.truncated"
REDACTION_FAILED = "agenttrace.content.redaction_failed"
DEAD_LETTER_ENTRY = "agenttrace.dead_letter.entry_id"
DEAD_LETTER_OUTCOME = "agenttrace.dead_letter.replay.outcome"
DEAD_LETTER_REPLAY_SPAN = "agenttrace.dead_letter.replay"  # the span name of a replay

# --- metrics (issue: metrics on spans) -------------------------------------------------------
EVALUATION_NAME = _g.GEN_AI_EVALUATION_NAME
EVALUATION_SCORE_VALUE = _g.GEN_AI_EVALUATION_SCORE_VALUE
EVALUATION_SCORE_LABEL = _g.GEN_AI_EVALUATION_SCORE_LABEL
EVALUATION_EXPLANATION = _g.GEN_AI_EVALUATION_EXPLANATION
EVALUATION_EVENT = "gen_ai.evaluation.result"  # the event name (the package has no constant for it)
METRIC_PREFIX = "agenttrace.metric."
METRIC_SAMPLED = "agenttrace.metric.sampled"
METRIC_SKIPPED = "agenttrace.metric.skipped"
# LLM judges (judge:<name> metrics): <prefix><name> (score), <prefix><name>.label, .explanation
# (content capture only), .skipped (rate_limit | cost_cap | queue_full | timeout), .error
METRIC_JUDGE_PREFIX = "agenttrace.metric.judge."
REVIEW_REQUIRED = "agenttrace.review.required"
REVIEW_REASON = "agenttrace.review.reason"

# --- OTel metrics (agenttrace.genai_metrics; documented in docs/metrics-prometheus.md and docs/attributes.md) ---
METRIC_RETRIES = "agenttrace.retries"
METRIC_RETRIES_EXHAUSTED = "agenttrace.retries.exhausted"
METRIC_REVIEW_FLAGS = "agenttrace.review.flags"
METRIC_SPANS_DROPPED = "agenttrace.spans.dropped"
DROP_REASON = "agenttrace.drop.reason"
