using System.Globalization;
using System.Text;
using Distributed.Center.Core;

namespace Distributed.Center.Dashboard;

/// <summary>
/// Writes <c>/metrics</c> in Prometheus' text exposition format (version 0.0.4) from the same view
/// the dashboard shows: the center's counters and queues, and each worker's latest status.
/// </summary>
public static class PrometheusText
{
    /// <summary>The content type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The metrics of <paramref name="view"/> and <paramref name="workers"/>.</summary>
    public static string Write(CenterView view, IReadOnlyList<WorkerRow> workers, long executorRestartsOfGoneWorkers)
    {
        var text = new StringBuilder();
        Metric(text, "distributed_tasks_submitted_total", "counter", "Tasks the center accepted since it started.", view.TasksSubmitted);
        Metric(text, "distributed_tasks_finished_total", "counter", "Tasks that finished since the center started (values made again after a loss not counted).", view.TasksFinished);
        Metric(text, "distributed_tasks_failed_total", "counter", "Task failures the center told clients of since it started.", view.TasksFailed);
        Header(text, "distributed_tasks", "gauge", "Tasks not finished, by where they wait: running on a worker, held back by the center for one, waiting for a worker that can run them (unplaced, restricted) or for their inputs.");
        var q = view.Queues;
        foreach (var (state, count) in new[] { ("running", q.Running), ("held", q.Held), ("unplaced", q.Unplaced), ("restricted", q.Restricted), ("waiting_for_inputs", q.WaitingForInputs) })
            Sample(text, "distributed_tasks", [("state", state)], count);
        Metric(text, "distributed_tasks_pending", "gauge", "Tasks not finished, in all states.", q.Pending);
        Metric(text, "distributed_workers", "gauge", "Registered workers.", view.Workers.Count);
        Metric(text, "distributed_clients", "gauge", "Connected clients.", view.Clients.Count);
        Metric(text, "distributed_keys", "gauge", "Values the center knows of.", view.KeysStored);
        Metric(text, "distributed_stored_bytes", "gauge", "Bytes of the values stored on the workers, as the center counts them.", view.BytesStored);
        Metric(text, "distributed_executor_restarts_total", "counter", "Executor processes that died or were replaced (a task timed out), all workers, including those gone.",
            executorRestartsOfGoneWorkers + workers.Sum(w => w.ExecutorRestarts ?? 0));
        PerWorker(text, workers, "distributed_worker_threads", "gauge", "Threads (cores) a worker runs tasks on.", w => w.Threads);
        PerWorker(text, workers, "distributed_worker_tasks_running", "gauge", "Tasks sent to a worker and not finished.", w => w.Running);
        PerWorker(text, workers, "distributed_worker_keys", "gauge", "Values a worker holds.", w => w.Keys);
        PerWorker(text, workers, "distributed_worker_stored_bytes", "gauge", "Bytes of the values a worker holds, in memory and spilled.", w => w.StoredBytes);
        PerWorker(text, workers, "distributed_worker_spilled_bytes", "gauge", "Bytes of a worker's values spilled to disk.", w => w.SpilledBytes);
        PerWorker(text, workers, "distributed_worker_memory_bytes", "gauge", "Resident memory of a worker and its executor processes.", w => w.MemoryBytes);
        PerWorker(text, workers, "distributed_worker_memory_limit_bytes", "gauge", "A worker's memory limit for values (0: none).", w => w.MemoryLimit);
        PerWorker(text, workers, "distributed_worker_cpu_percent", "gauge", "CPU use of a worker and its executors, in percent of one core.", w => w.CpuPercent);
        PerWorker(text, workers, "distributed_worker_sent_bytes_total", "counter", "Bytes of values a worker served to other workers and clients.", w => w.BytesSent);
        PerWorker(text, workers, "distributed_worker_received_bytes_total", "counter", "Bytes of values a worker fetched from other workers.", w => w.BytesReceived);
        PerWorker(text, workers, "distributed_worker_tasks_run_total", "counter", "Tasks a worker's executors ran to a result or an error.", w => w.TasksRun);
        PerWorker(text, workers, "distributed_worker_executor_restarts_total", "counter", "Executor processes of a worker that died or were replaced.", w => w.ExecutorRestarts);
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value)
    {
        Header(text, name, type, help);
        Sample(text, name, [], value);
    }

    private static void PerWorker(StringBuilder text, IReadOnlyList<WorkerRow> workers, string name, string type, string help, Func<WorkerRow, double?> value)
    {
        Header(text, name, type, help);
        foreach (var worker in workers)
            if (value(worker) is { } measured) Sample(text, name, [("worker", worker.Name)], measured);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, (string Name, string Value)[] labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0) text.Append(',');
                text.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            text.Append('}');
        }
        text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    /// <summary>A label value as the format writes it: backslash, double quote and line feed escaped.</summary>
    public static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
