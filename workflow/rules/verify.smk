# Recompute every trained model by hand (numpy, no TensorFlow) and compare with Keras: one
# job per model verifies all its seeds, as one train job trained them (train.smk says why
# a rule per study and seed list). Each seed keeps its own report, hidden states and MLflow
# run; a seed that fails verification fails its model's job, naming the seed.

for group in layout.seed_groups(STUDIES):

    rule:
        name:
            group["rules"][layout.VERIFY_RULE]
        wildcard_constraints:
            study=re.escape(group["study"]),
            arch="|".join(group["archs"]),
        input:
            **{
                role: [layout.run_pattern(role, seed) for seed in group["seeds"]]
                for role in ("model", "weights", "history", "predictions")
            },
            windows=layout.WINDOWS,
            script=script("verify"),
            library=library("verify"),
        output:
            report=[layout.run_pattern("verify", seed) for seed in group["seeds"]],
            hidden=[layout.run_pattern("hidden", seed) for seed in group["seeds"]],
        params:
            hyperparams=hyperparams_json,
            seeds=" ".join(map(str, group["seeds"])),
            atol=config["verification"]["atol"],
            stateful_atol=config["verification"]["stateful_atol"],
            rtol=config["verification"]["rtol"],
        log:
            job=layout.job_log("verify", layout.MODEL),
            # The client writes the job's own cost: Snakemake's `benchmark:` would measure
            # only the client waiting for the fork server's child (forecastlab.forkserver).
            benchmark=layout.job_benchmark("verify", layout.MODEL),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=15,  # minutes, for a cluster (profiles/slurm)
        conda:
            "../../envs/numpy.yaml"
        shell:
            "python -m forecastlab.forkserver --benchmark {log.benchmark} {input.script}"
            " --study {wildcards.study} --length {wildcards.length} --arch {wildcards.arch}"
            " --hyperparams {params.hyperparams:q} --seeds {params.seeds}"
            " --model {input.model} --weights {input.weights} --windows {input.windows}"
            " --predictions {input.predictions} --history {input.history}"
            " --atol {params.atol} --stateful-atol {params.stateful_atol} --rtol {params.rtol}"
            " --output {output.report} --hidden {output.hidden} > {log.job} 2>&1"
