from django.urls import path

from events.api import views

urlpatterns = [
    path("events", views.EventIngestView.as_view(), name="ingest-events"),
]
