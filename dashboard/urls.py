from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from . import views, views_aftersales

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard:home"), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("no-role/", views.no_role, name="no_role"),
    path("me/", views.buyer_home, name="buyer_home"),
    path("queue/", views.queue, name="queue"),
    path("queue/assign/", views.queue_assign, name="queue_assign"),
    path("cases/<int:pk>/", views.case_detail, name="case"),
    path("cases/<int:pk>/assign/", views.case_assign, name="case_assign"),
    path("cases/<int:pk>/escalate/", views.case_escalate, name="case_escalate"),
    path("cases/<int:pk>/notes/", views.case_note, name="case_note"),
    path("cases/<int:pk>/request-evidence/", views.case_request_evidence, name="case_request_evidence"),
    path("cases/<int:pk>/rule/", views.case_rule, name="case_rule"),
    path("cases/<int:pk>/suspend/", views.case_suspend, name="case_suspend"),
    path("cases/<int:pk>/resume/", views.case_resume, name="case_resume"),
    path("evidence/<int:pk>/review/", views.evidence_review, name="evidence_review"),
    path("arbitration/", views.arbitration, name="arbitration"),
    path("reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("seller/", views.seller_inbox, name="seller_inbox"),
    path("seller/refunds/<int:pk>/", views.seller_refund, name="seller_refund"),
    path("seller/complaints/<int:pk>/", views.seller_complaint, name="seller_complaint"),
    path("seller/record/", views.seller_record, name="seller_record"),
    path("shops/<int:pk>/record/", views.shop_record_page, name="shop_record"),
    path("overview/", views.overview, name="overview"),
    path("registrations/", views_aftersales.registrations, name="registrations"),
    path("registrations/new/", views_aftersales.registration_new, name="registration_new"),
    path("registrations/<int:pk>/move/", views_aftersales.registration_move, name="registration_move"),
    path("logistics-claims/", views_aftersales.logistics_claims, name="logistics_claims"),
    path("logistics-claims/new/", views_aftersales.logistics_claim_new, name="logistics_claim_new"),
    path("logistics-claims/<int:pk>/move/", views_aftersales.logistics_claim_move, name="logistics_claim_move"),
    path("performance/", views_aftersales.performance, name="performance"),
    path("replies/", views.replies, name="replies"),
    path("replies/<int:pk>/", views.replies, name="reply_edit"),
]
