# Train each (study, window length, architecture) with all its seeds, and evaluate every
# seed's model on its test part in every mode that applies (forecastlab.modes), in one
# job: the seeds train one after another through one compiled graph (forecastlab.
# training.SeedGroup), which is traced and compiled once. Jobs run in children of the fork
# server (start_forkserver), which imported TensorFlow once for all of them.
#
# A job makes every seed's files, and a rule's outputs cannot depend on its wildcards:
# so one rule per study and seed list (forecastlab.layout.seed_groups), its wildcards
# held to the architectures that study trains with those seeds. Adding a seed reruns the
# model's job; the other seeds' files come out bitwise the same.

for group in layout.seed_groups(STUDIES):

    rule:
        name:
            group["rules"][layout.TRAIN_RULE]
        wildcard_constraints:
            study=re.escape(group["study"]),
            arch="|".join(group["archs"]),
        input:
            windows=layout.WINDOWS,
            prepared=layout.PREPARED,
            script=script("train"),
            library=library("train"),
        output:
            **{
                role: [layout.run_pattern(role, seed) for seed in group["seeds"]]
                for role in layout.TRAINED_FILES
            },
        params:
            hyperparams=hyperparams_json,
            data_params=data_params_json,
            seeds=" ".join(map(str, group["seeds"])),
        log:
            job=layout.job_log("train", layout.MODEL),
            # The client writes the job's own cost: Snakemake's `benchmark:` would measure
            # only the client waiting for the fork server's child (forecastlab.forkserver).
            benchmark=layout.job_benchmark("train", layout.MODEL),
        threads: 1
        resources:
            mem_mb=2000,
            runtime=150,  # minutes, for a cluster (profiles/slurm)
        conda:
            "../../envs/tensorflow.yaml"
        shell:
            "python -m forecastlab.forkserver --benchmark {log.benchmark} {input.script} --windows {input.windows} --prepared {input.prepared}"
            " --study {wildcards.study}"
            " --length {wildcards.length} --arch {wildcards.arch}"
            " --hyperparams {params.hyperparams:q} --data-params {params.data_params:q}"
            " --seeds {params.seeds} --model {output.model}"
            " --weights {output.weights} --history {output.history}"
            " --metrics {output.eval} --predictions {output.predictions} > {log.job} 2>&1"
