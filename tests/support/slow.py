"""The tests that `make test-fast` leaves out for their time (the `slow` marker, set by
tests/conftest.py): each took a second or more, its parametrised variants together, in a
`pytest --durations` run of the rest on this project's 2-core machine. Real models at work,
worker and server processes, and parametrised tests that start a live server per variant.
A module's path stands for all its tests.

Listed here rather than decorated where they are defined, so that the measure can be redone
in one place. A listed test that is renamed only drops out of the list (and then runs in
`make test-fast` too); tests/test_markers.py fails on names that match no test.
"""

SLOW_TESTS = frozenset(
    {
        "tests/api/test_auth.py::test_missing_or_wrong_keys_are_refused",
        "tests/api/test_bad_input.py::test_a_wrong_method_is_told_every_allowed_one",
        "tests/api/test_bad_input.py::test_bad_file_multipart",
        "tests/api/test_bad_input.py::test_bad_file_raw",
        "tests/api/test_bad_input.py::test_bad_list_parameters",
        "tests/api/test_bad_input.py::test_invalid_metadata",
        "tests/api/test_bad_input.py::test_odd_but_valid_images_are_analysed",
        "tests/api/test_bad_input.py::test_unknown_ids",
        "tests/api/test_bad_input.py::test_wrong_content_type",
        "tests/api/test_classifiers.py::test_a_classifier_learns_garment_shapes_from_labelled_uploads",
        "tests/api/test_classifiers.py::test_a_published_classifier_runs_on_new_uploads_and_backfills_old_ones",
        "tests/api/test_classifiers.py::test_export_runs_in_onnxruntime_to_the_same_probabilities",
        "tests/api/test_classifiers.py::test_versions_and_predictions_survive_a_restart",
        "tests/api/test_conformance.py",
        "tests/api/test_events.py::test_resume_with_last_event_id_and_filters",
        "tests/api/test_hostile_values.py::test_a_file_name_up_to_the_limit_is_stored_whole",
        "tests/api/test_hostile_values.py::test_a_longer_file_name_is_refused_however_it_is_sent",
        "tests/api/test_images.py::test_content_is_the_original_with_ranges",
        "tests/api/test_images.py::test_list_paginates_newest_first_and_filters",
        "tests/api/test_images.py::test_lists_can_leave_out_results_but_keep_every_status",
        "tests/api/test_images.py::test_thumbnails_by_size",
        "tests/api/test_model_features.py::test_an_uploaded_claim_form_is_read_by_the_workers",
        "tests/api/test_search.py::test_cursor_pages_over_http",
        "tests/api/test_search.py::test_real_tags_and_text_are_searchable",
        "tests/api/test_search.py::test_search_finds_images_by_tags_text_and_labels",
        "tests/api/test_semantic.py::test_a_user_clip_model_answers_text_queries_when_installed",
        "tests/api/test_semantic.py::test_semantic_search_refuses_what_it_cannot_do",
        "tests/api/test_semantic.py::test_similar_images_come_nearest_first_and_never_include_the_image",
        "tests/api/test_semantic.py::test_text_queries_find_images_by_meaning_without_the_words",
        "tests/api/test_subscriptions.py::test_an_endpoint_that_does_not_agree_is_not_subscribed",
        "tests/api/test_subscriptions.py::test_bad_fields_are_refused_before_any_request",
        "tests/api/test_subscriptions.py::test_non_public_endpoints_are_refused",
        "tests/api/test_subscriptions.py::test_subscriptions_need_the_api_key",
        "tests/blobs/test_s3.py::test_an_unreachable_store_is_a_backend_error",
        "tests/cli/test_analyze.py::test_analyze_prints_every_default_feature_as_json",
        "tests/cli/test_models.py::test_prepare_reports_each_model",
        "tests/cli/test_serve.py::test_serve_runs_the_pipeline_and_stops_on_sigterm",
        "tests/images/test_concurrency.py::test_a_reader_following_events_by_seq_misses_none",
        "tests/images/test_concurrency.py::test_a_reader_following_vectors_by_seq_misses_none",
        "tests/models/test_prepare.py::test_force_converts_again",
        "tests/models/test_prepare.py::test_prepare_converts_every_pending_model_and_records_it",
        "tests/models/test_prepare.py::test_prepared_json_records_the_recipe_and_every_files_checksum",
        "tests/models/test_sentences.py::test_batches_give_what_single_texts_give",
        "tests/search/test_text.py::test_no_query_can_break_the_fts_syntax",
        "tests/search/test_vectors.py::test_every_catalog_gives_the_true_nearest_neighbours",
        # Both share one collection by a pytest of their own.
        "tests/test_markers.py::test_a_test_naming_the_whole_stack_gets_every_server_unless_it_names_its_own",
        "tests/test_markers.py::test_each_variant_is_marked_with_the_server_its_parameter_picks",
        "tests/test_recipes.py::test_fashion_catalogue",
        "tests/test_recipes.py::test_game_telemetry",
        "tests/test_recipes.py::test_insurance_claims",
        "tests/test_worker.py::test_a_killed_worker_job_completes_later_exactly_once",
        "tests/test_worker.py::test_the_worker_command_processes_jobs_and_stops_on_sigterm",
        "tests/test_worker.py::test_transient_failures_are_retried_with_backoff",
        "tests/test_worker.py::test_warm_stop_lets_the_running_job_finish",
        "tests/vision/test_concepts.py::test_the_result_names_its_method_models_and_vector",
        "tests/vision/test_feature_interplay.py::test_a_crop_keeps_the_text_read_in_the_same_job",
        "tests/vision/test_metadata.py::test_gif_frame_count_is_capped",
        # OCR: the model's first load and every page read take a second or more.
        "tests/vision/test_read.py",
        "tests/vision/test_registry.py::test_loading_and_running_every_model_touches_no_network",
        "tests/web/test_routes.py::test_only_shipped_assets_are_served",
        "tests/webhooks/test_app.py::test_a_restart_in_the_middle_of_a_retry_schedule_resumes_it",
        "tests/webhooks/test_dispatcher.py::test_a_receiver_answering_too_late_is_retried",
        "tests/webhooks/test_dispatcher.py::test_undelivered_events_expire_after_their_ttl",
    }
)
